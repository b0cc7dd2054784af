// Package svc serves stock levels over HTTP for the warehouse scanners.
package svc

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNotFound is returned for an unknown SKU or warehouse.
var ErrNotFound = errors.New("not found")

// ErrInsufficient is returned when a movement would make a level negative.
var ErrInsufficient = errors.New("insufficient stock")

// Movement is one change of a stock level, as scanned.
type Movement struct {
	SKU       string    `json:"sku"`
	Warehouse string    `json:"warehouse"`
	Delta     int       `json:"delta"`
	Reason    string    `json:"reason"`
	At        time.Time `json:"at"`
	Operator  string    `json:"operator"`
}

// Level is the stock of one SKU in one warehouse.
type Level struct {
	SKU       string    `json:"sku"`
	Warehouse string    `json:"warehouse"`
	Quantity  int       `json:"quantity"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Store keeps levels and the movement journal in memory, safe for concurrent use.
type Store struct {
	mu       sync.RWMutex
	levels   map[string]map[string]*Level
	journal  []Movement
	now      func() time.Time
	maxDelta int
}

// NewStore returns an empty store. maxDelta bounds a single movement (0: no bound).
func NewStore(maxDelta int) *Store {
	return &Store{
		levels:   make(map[string]map[string]*Level),
		now:      time.Now,
		maxDelta: maxDelta,
	}
}

// Apply records a movement and updates the level; it refuses to go below zero.
func (s *Store) Apply(m Movement) (Level, error) {
	if m.SKU == "" || m.Warehouse == "" {
		return Level{}, fmt.Errorf("movement needs sku and warehouse")
	}
	if s.maxDelta > 0 && (m.Delta > s.maxDelta || m.Delta < -s.maxDelta) {
		return Level{}, fmt.Errorf("delta %d exceeds the limit of %d", m.Delta, s.maxDelta)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	byWh, ok := s.levels[m.SKU]
	if !ok {
		byWh = make(map[string]*Level)
		s.levels[m.SKU] = byWh
	}
	lvl, ok := byWh[m.Warehouse]
	if !ok {
		lvl = &Level{SKU: m.SKU, Warehouse: m.Warehouse}
		byWh[m.Warehouse] = lvl
	}
	if lvl.Quantity+m.Delta < 0 {
		return *lvl, ErrInsufficient
	}
	if m.At.IsZero() {
		m.At = s.now()
	}
	lvl.Quantity += m.Delta
	lvl.UpdatedAt = m.At
	s.journal = append(s.journal, m)
	return *lvl, nil
}

// Get returns the level of a SKU in a warehouse.
func (s *Store) Get(sku, warehouse string) (Level, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	lvl, ok := s.levels[sku][warehouse]
	if !ok {
		return Level{}, ErrNotFound
	}
	return *lvl, nil
}

// Total returns the stock of a SKU over all warehouses.
func (s *Store) Total(sku string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	total := 0
	for _, lvl := range s.levels[sku] {
		total += lvl.Quantity
	}
	return total
}

// Transfer moves qty units of sku between warehouses as two journal entries.
func (s *Store) Transfer(sku, from, to string, qty int, operator string) error {
	if qty <= 0 {
		return fmt.Errorf("transfer quantity must be positive, got %d", qty)
	}
	if _, err := s.Apply(Movement{SKU: sku, Warehouse: from, Delta: -qty,
		Reason: "transfer to " + to, Operator: operator}); err != nil {
		return err
	}
	_, err := s.Apply(Movement{SKU: sku, Warehouse: to, Delta: qty,
		Reason: "transfer from " + from, Operator: operator})
	return err
}

// LowStock lists levels at or below threshold, lowest first.
func (s *Store) LowStock(threshold int) []Level {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Level
	for _, byWh := range s.levels {
		for _, lvl := range byWh {
			if lvl.Quantity <= threshold {
				out = append(out, *lvl)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Quantity != out[j].Quantity {
			return out[i].Quantity < out[j].Quantity
		}
		return out[i].SKU < out[j].SKU
	})
	return out
}

// History returns the journal entries of a SKU since the given time, oldest first.
func (s *Store) History(sku string, since time.Time) []Movement {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Movement
	for _, m := range s.journal {
		if m.SKU == sku && !m.At.Before(since) {
			out = append(out, m)
		}
	}
	return out
}

// Velocity returns the average units shipped per day for sku over the last `days` days.
func (s *Store) Velocity(sku string, days int) float64 {
	// TODO: implement. Sum the negative deltas whose reason starts with "ship" within the last
	// `days` days (use s.now()), and divide the units by days. Return 0 when days <= 0.
	return 0
}

// Compact drops journal entries older than the cutoff, keeping the levels.
func (s *Store) Compact(cutoff time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.journal[:0]
	for _, m := range s.journal {
		if !m.At.Before(cutoff) {
			kept = append(kept, m)
		}
	}
	dropped := len(s.journal) - len(kept)
	s.journal = kept
	return dropped
}

// Handler serves the store's HTTP API.
type Handler struct {
	Store *Store
}

func writeJSON(w http.ResponseWriter, status int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 3 && parts[0] == "levels" && r.Method == http.MethodGet:
		h.getLevel(w, parts[1], parts[2])
	case len(parts) == 1 && parts[0] == "movements" && r.Method == http.MethodPost:
		h.postMovement(w, r)
	case len(parts) == 1 && parts[0] == "low" && r.Method == http.MethodGet:
		h.getLow(w, r)
	default:
		writeError(w, http.StatusNotFound, "no such endpoint")
	}
}

func (h *Handler) getLevel(w http.ResponseWriter, sku, warehouse string) {
	lvl, err := h.Store.Get(sku, warehouse)
	if errors.Is(err, ErrNotFound) {
		writeError(w, http.StatusNotFound, "unknown sku or warehouse")
		return
	}
	writeJSON(w, http.StatusOK, lvl)
}

func (h *Handler) postMovement(w http.ResponseWriter, r *http.Request) {
	var m Movement
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		writeError(w, http.StatusBadRequest, "bad movement: "+err.Error())
		return
	}
	lvl, err := h.Store.Apply(m)
	switch {
	case errors.Is(err, ErrInsufficient):
		writeError(w, http.StatusConflict, err.Error())
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		writeJSON(w, http.StatusCreated, lvl)
	}
}

func (h *Handler) getLow(w http.ResponseWriter, r *http.Request) {
	threshold := 5
	if t := r.URL.Query().Get("threshold"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "threshold must be a non-negative integer")
			return
		}
		threshold = n
	}
	writeJSON(w, http.StatusOK, h.Store.LowStock(threshold))
}

// Snapshot returns every level, sorted by SKU then warehouse, for the nightly export.
func (s *Store) Snapshot() []Level {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Level
	for _, byWh := range s.levels {
		for _, lvl := range byWh {
			out = append(out, *lvl)
		}
	}
	for i := 0; i < len(out); i++ {
		for j := i + 1; j < len(out); j++ {
			if out[j].SKU < out[i].SKU ||
				(out[j].SKU == out[i].SKU && out[j].Warehouse < out[i].Warehouse) {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
