package main

import (
	"github.com/nexus-workflows/nexus/model"
	"github.com/nexus-workflows/nexus/model/asl"
)

// parseWorkflow reads a workflow in either language: a Step Functions
// definition is recognised by its content (StartAt and States at the top
// level), so that a Step Functions user can validate, draw, test and check
// an existing definition without migrating it.
func parseWorkflow(path string, src []byte) (*model.Workflow, model.Findings) {
	if asl.Detect(src) {
		return asl.Import(path, src)
	}
	return model.Parse(path, src)
}
