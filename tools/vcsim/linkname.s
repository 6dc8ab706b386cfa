// Empty on purpose: a package with an assembly file may declare Go functions without a body,
// which the go:linkname declarations need (clone.go: vcsim's VM reconfigure; session_expiry.go and
// slow_task.go: vcsim's session registry).
