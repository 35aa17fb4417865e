"""What every rail adapter shares: retries, rate limits, circuit breakers, health."""
