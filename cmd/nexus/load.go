package main

import (
	"fmt"
	"os"

	"github.com/nexus-workflows/nexus/model"
)

// maxFileBytes bounds what a command reads from one workflow file.
const maxFileBytes = model.MaxSourceBytes

// source is one workflow file as read from disk.
type source struct {
	path string
	src  []byte
}

func readSource(path string) (*source, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s is a directory", path)
	}
	if fi.Size() > maxFileBytes {
		return nil, fmt.Errorf("%s: %d bytes; the limit is %d", path, fi.Size(), maxFileBytes)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return &source{path: path, src: src}, nil
}

// parse reads a workflow in either language: a Step Functions definition
// is recognised by its content.
func (s *source) parse() (*model.Workflow, model.Findings) {
	return parseWorkflow(s.path, s.src)
}

// load parses, validates and compiles a workflow file. The findings hold
// everything found; the machine is nil when any of them is an error.
func load(path string) (*source, *model.Machine, model.Findings, error) {
	s, err := readSource(path)
	if err != nil {
		return nil, nil, nil, err
	}
	w, fs := s.parse()
	if w == nil || fs.Errors() > 0 {
		if w != nil {
			fs = append(fs, model.Validate(w)...)
			fs.Sort()
		}
		return s, nil, fs, nil
	}
	m, cfs := model.Compile(w)
	fs = append(fs, cfs...)
	fs.Sort()
	return s, m, fs, nil
}

// validateOnly validates a parsed workflow without compiling it.
func validateOnly(w *model.Workflow) model.Findings { return model.Validate(w) }
