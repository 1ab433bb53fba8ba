package dbxctest

import "syscall"

// dieWithParent has Linux kill the binaries when the test process dies without Close.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
