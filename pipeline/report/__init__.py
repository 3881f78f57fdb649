"""The HTML report: page helpers, sections and the inline 3D viewer."""
