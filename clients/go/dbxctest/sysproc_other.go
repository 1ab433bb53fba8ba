//go:build !linux

package dbxctest

import "syscall"

func dieWithParent() *syscall.SysProcAttr { return nil }
