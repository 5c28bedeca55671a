"""Running Vigie as several processes with PostgreSQL as the only coordinator."""
