// Package archtest holds tests of the project's dependency rules.
package archtest
