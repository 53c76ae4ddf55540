package agent

import (
	"os"
	"syscall"
	"unsafe"
)

// pollable returns f's descriptor as a non-blocking *os.File served by Go's poller, and closes f. The
// terminal's master side must be closable while the agent's input goroutine is blocked writing to it (a
// terminal whose program reads nothing fills up): a blocking write would hold the descriptor open, Close
// would never really close it, and the session would never end.
func pollable(f *os.File) (*os.File, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	nfd := -1
	cerr := rc.Control(func(fd uintptr) {
		syscall.ForkLock.RLock()
		defer syscall.ForkLock.RUnlock()
		if nfd, err = syscall.Dup(int(fd)); err == nil {
			syscall.CloseOnExec(nfd)
		}
	})
	if cerr != nil {
		err = cerr
	}
	if err == nil {
		err = syscall.SetNonblock(nfd, true)
	}
	if err != nil {
		if nfd >= 0 {
			syscall.Close(nfd)
		}
		return nil, err
	}
	_ = f.Close()
	return os.NewFile(uintptr(nfd), f.Name()), nil
}

// setWinsize sets the terminal's size like pty.Setsize, without calling f.Fd(), which would switch f back
// to blocking mode.
func setWinsize(f *os.File, rows, cols uint16) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	ws := struct{ row, col, x, y uint16 }{rows, cols, 0, 0}
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCSWINSZ, uintptr(unsafe.Pointer(&ws)))
	}); err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}
