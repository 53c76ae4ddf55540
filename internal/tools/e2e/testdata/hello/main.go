// Command hello is a main package for the harness's BuildBinary test.
package main

import "fmt"

func main() { fmt.Println("hello") }
