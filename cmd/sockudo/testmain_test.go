package main

import (
	"os"
	"testing"

	"github.com/sockudo/sockudo-go/engine/appstore/mysqltest"
	"github.com/sockudo/sockudo-go/engine/appstore/pgtest"
)

// serveChildEnv makes the test binary act as `sockudo` with its
// arguments: tests that must measure the server from outside (its RSS)
// run it as a child process of their own.
const serveChildEnv = "SOCKUDO_TEST_SERVE"

// TestMain serves as the server in a child process when asked to, and
// otherwise runs the tests, then stops the databases the SQL app store
// tests share.
func TestMain(m *testing.M) {
	if os.Getenv(serveChildEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stderr))
	}
	code := m.Run()
	pgtest.Cleanup()
	mysqltest.Cleanup()
	os.Exit(code)
}
