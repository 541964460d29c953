//go:build unix

package invoke

import (
	"os/exec"
	"syscall"
)

// killGroup starts cmd in a process group of its own and makes the
// context's cancellation kill the whole group, not just the leader.
func killGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The group id is the leader's pid (Setpgid with Pgid 0).
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
