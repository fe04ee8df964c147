package session

// FlushChunk is flushChunk, for the external tests.
const FlushChunk = flushChunk

// JournalFile is the contents of a move journal file with touches' records,
// and JournalName its name for sequence number seq: for the external tests.
func JournalFile(touches ...Touch) ([]byte, error) {
	data := []byte(journalMagic)
	for _, t := range touches {
		var err error
		if data, err = appendJournalRecord(data, t); err != nil {
			return nil, err
		}
	}
	return data, nil
}

func JournalName(seq uint64) string { return journalName(seq) }
