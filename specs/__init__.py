"""The spec library: one .opt file per optimizer, plus prelude.opt."""
