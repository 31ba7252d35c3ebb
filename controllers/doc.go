// Package controllers holds the thin wiring of each reconciler — watches, predicates,
// map functions — around the logic in internal/reconciler/<kind>. Reconcilers arrive
// with the controllers work; the manager in internal/manager registers them.
package controllers
