package testtool

import (
	"bytes"
	"sync"
)

// LogBuffer is a bytes.Buffer that a server's goroutines (as a slog
// handler's output, or an exec.Cmd's Stdout) and the test may use at once.
// The zero value is ready.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Len is how many bytes were written so far: a mark for reading only what
// comes after it (String()[mark:]).
func (l *LogBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}
