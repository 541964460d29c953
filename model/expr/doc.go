// Package expr evaluates the expression languages of workflow data flow,
// as AWS Step Functions does, plus CEL for nexus's own expressions:
//
//   - JSONPath paths as ASL writes them ($, $$ for the Context Object,
//     $name for a variable): Query, Lookup, CheckPath;
//   - payload templates, whose "key.$" fields take a path or an intrinsic
//     function call: Template, CheckTemplate;
//   - the 18 intrinsic functions (States.Format, States.MathAdd, ...):
//     Intrinsic, CheckIntrinsic;
//   - ResultPath placement: SetResult;
//   - Choice comparison operators: Compare, CheckOperator, Operators;
//   - JSONata, with the functions AWS adds ($partition, $range, $hash,
//     $random, $uuid, $parse): JSONata, JSONataValue, CheckJSONata;
//   - CEL over input, vars and context: CEL, CELCache, CheckCEL.
//
// Values are plain JSON values: map[string]any, []any, string, int64 for
// integers, float64 for other numbers, bool and nil. Evaluators never
// modify their arguments; results may share structure with them, so
// callers treat values as immutable.
//
// Everything here is a pure function of its arguments and an Env: no I/O,
// no clock, no global random generator, no package-level mutable state.
// Failures are *Error values named as AWS names them (States.Runtime,
// States.QueryEvaluationError, ...), with AWS's wording where the
// conformance vectors show it.
//
// Known limits: JSONata runs on jsonata-go 1.5, a port of JSONata 1.x, with
// the 2.x behaviour the vectors need added; a user-defined JSONata function
// that recurses without end exhausts the goroutine stack (the library has
// no depth limit), so drivers should not evaluate untrusted JSONata in a
// process they cannot lose.
package expr
