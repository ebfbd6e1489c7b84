"""Reports: the appendix's tables (markdown, LaTeX), figures, the shortcut tables, and predict (one
trained run applied to new films)."""
