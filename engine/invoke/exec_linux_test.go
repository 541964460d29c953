package invoke

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestExecCancelKillsGroup: when the call's context ends, the program and
// what it started are killed, and Invoke returns the context's error
// although a grandchild held stdout open.
func TestExecCancelKillsGroup(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pid.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// O_RDWR: opening does not wait for a writer.
	f, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pids := make(chan string, 1)
	go func() {
		line, err := bufio.NewReader(f).ReadString('\n')
		if err == nil {
			pids <- strings.TrimSpace(line)
		}
	}()
	script(t, dir, "spawn", `sleep 300 & echo $! > `+fifo+`; wait`)

	e := &ExecInvoker{Dir: dir}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		resp Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := e.Invoke(ctx, Request{Function: "spawn", URI: "exec:./spawn"})
		done <- result{resp, err}
	}()
	var pid int
	select {
	case s := <-pids:
		if pid, err = strconv.Atoi(s); err != nil {
			t.Fatalf("pid %q: %v", s, err)
		}
	case res := <-done:
		t.Fatalf("Invoke returned before the grandchild started: %+v, %v", res.resp, res.err)
	}
	cancel()
	res := <-done
	if !errors.Is(res.err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", res.err)
	}
	waitGone(t, pid)

	// A request timeout behaves the same and reports DeadlineExceeded.
	script(t, dir, "sleepy", `sleep 300`)
	_, err = e.Invoke(context.Background(), Request{Function: "sleepy", URI: "exec:./sleepy", Timeout: 50 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
}

// waitGone waits (bounded) for a process that is not our child to exit,
// through a pidfd: the kill was sent before Invoke returned, but the
// kernel completes it asynchronously.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return
	}
	if err != nil {
		t.Fatalf("pidfd_open(%d): %v", pid, err)
	}
	defer unix.Close(fd)
	for {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 10_000)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatalf("poll pidfd: %v", err)
		}
		if n == 0 {
			t.Fatalf("grandchild %d still alive 10 s after the group was killed", pid)
		}
		return
	}
}
