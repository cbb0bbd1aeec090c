package collector

import "time"

// TimeoutOf returns the request timeout s uses, for tests.
func TimeoutOf(s *Storage) time.Duration { return s.opts.Timeout }
