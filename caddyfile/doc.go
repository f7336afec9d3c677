// Package caddyfile holds billbridge's Caddyfile→JSON golden tests and its
// one caddytest integration package: a real Caddy with the module, in
// process, against real HTTP legacy stubs. Keeping them in one package
// keeps them off each other's admin port (caddytest uses localhost:2999).
// Under go test -short the integration tests skip (newTester); the golden
// tests and the example validation still run.
package caddyfile
