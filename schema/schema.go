// Package schema publishes the JSON Schema of nexus workflow files, so that
// editors validate them as they are typed (point yaml-language-server or
// VS Code at schema/workflow.schema.json), and checks files against it.
package schema

import (
	"bytes"
	_ "embed"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// JSON is the schema text.
//
//go:embed workflow.schema.json
var JSON []byte

// URL is the schema's $id.
const URL = "https://github.com/nexus-workflows/nexus/schema/workflow.schema.json"

// Compile compiles the schema.
func Compile() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(JSON))
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(URL, doc); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	return c.Compile(URL)
}
