"""Results store and reporting."""
