package store

import "testing"

func TestFileContract(t *testing.T) {
	runContract(t, func(t *testing.T) Store { return newFileStore(t) })
}

func TestFileQueueContract(t *testing.T) {
	runQueueContract(t, func(t *testing.T) Queue { return newFileStore(t) })
}
