// Empty on purpose: a package with an assembly file may declare Go functions without a body,
// which clone.go needs for its go:linkname to vcsim's VM reconfigure.
