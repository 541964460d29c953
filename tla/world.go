package tla

import "github.com/nexus-workflows/nexus/model"

// UndeclaredError is the error the world raises that no retry or catch
// rule of a state names: the same name `nexus check` uses
// (model.UndeclaredError).
const UndeclaredError = model.UndeclaredError

// The World table of a module (writeTables) is model.Machine.Worlds:
// what the abstraction of `nexus check` lets the world do at each state,
// computed by the same code the checker uses, so the two cannot drift.
