package bench

import "os"

func writeExecutable(path, content string) error { return os.WriteFile(path, []byte(content), 0o755) }
