package svc

import (
	"errors"
	"testing"
)

func TestApplyRefusesNegativeStock(t *testing.T) {
	s := NewStore(0)
	if _, err := s.Apply(Movement{SKU: "A1", Warehouse: "W1", Delta: 3}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Apply(Movement{SKU: "A1", Warehouse: "W1", Delta: -4})
	if !errors.Is(err, ErrInsufficient) {
		t.Fatalf("got %v, want ErrInsufficient", err)
	}
}

func TestTotalSumsWarehouses(t *testing.T) {
	s := NewStore(0)
	s.Apply(Movement{SKU: "A1", Warehouse: "W1", Delta: 3})
	s.Apply(Movement{SKU: "A1", Warehouse: "W2", Delta: 4})
	if got := s.Total("A1"); got != 7 {
		t.Fatalf("Total = %d, want 7", got)
	}
}
