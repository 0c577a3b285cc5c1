"""Reference data, prediction logging, late labels; later, monitoring runs over windows."""
