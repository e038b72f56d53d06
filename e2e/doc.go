// Package e2e holds meshdrill's end-to-end tests: they run the lab mesh next to real
// backends started by internal/testenv and check that both tell the same story.
package e2e
