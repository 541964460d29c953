//go:build !unix

package invoke

import "os/exec"

// killGroup: without Unix process groups only the program itself is
// killed when the context ends (os/exec's default).
func killGroup(*exec.Cmd) {}
