// Package nexusv1 holds the Go code generated from nexus.proto: the
// messages and, in nexusv1connect, the connect client and handler of
// NexusService. See api/README.md.
package nexusv1

//go:generate protoc -I . -I /usr/include --go_out=. --go_opt=paths=source_relative --connect-go_out=. --connect-go_opt=paths=source_relative nexus.proto
