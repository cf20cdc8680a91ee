"""Helpers for scripts/ and tests/ only: the harness core never imports this
package (a test checks it)."""
