"""Storage: typed ORM models, the async engine and the migration runner."""
