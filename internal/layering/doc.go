// Package layering holds no code: its test enforces the import rules of
// DESIGN.md's layout table with go list -deps, in the spirit of
// tailscale's depaware. Each rule is one row of a table: which packages it
// covers, which imports they must not reach (directly or through anything
// they import), and the exceptions. A failure names the import chain that
// breaks the rule.
//
// It lives apart from the packages it checks so that it builds none of
// their tests and fails only for layering; run it alone with
//
//	go test ./internal/layering
package layering
