// Package child runs part of an example in a child process, so that a
// failure Go cannot recover from (fatal error: concurrent map writes) kills
// the child, not the example, which then shows what the child printed.
package child

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
)

const envName = "NUMASHARD_EXAMPLE_CHILD"

// Run runs fn in a child process (a copy of this program) and returns the
// first line of its "fatal error" report, or "" if it exited normally. Call
// it early in main: in the child it runs fn and exits.
func Run(name string, fn func()) (fatal string, err error) {
	if os.Getenv(envName) == name {
		fn()
		os.Exit(0)
	}
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), envName+"="+name)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "fatal error:") {
			return line, nil
		}
	}
	if runErr != nil {
		return "", runErr
	}
	return "", nil
}
