package session

// FlushChunk is flushChunk, for the external tests.
const FlushChunk = flushChunk
