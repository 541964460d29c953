package checker

import (
	"fmt"
	"sort"
	"strings"
)

// Termination is decided on the execution graph restricted to the moves
// that cannot end a loop by themselves: every move but a choice decision
// (data can change and take the other branch) and a crash (crashes are
// finitely many). A strongly connected component of that graph with a
// cycle is a loop the world can keep going forever: errors that keep
// coming, caught and sent back; a wait that leads back to itself. Retries
// under a retry policy are counted in the state and cannot loop.
//
// Weak fairness: an execution whose timeout timer runs in every state of
// the loop leaves it when the timer fires, so such a loop is not a
// violation.

// loopMove reports whether a graph edge can drive a loop.
func loopMove(f uint32) bool { return f&fLoop != 0 }

// loopWork reports whether a move, as re-expanded for a trace, can drive
// a loop.
func loopWork(f uint32) bool { return f&(fProgress|fCrash) == 0 }

// termination reports the loops of the execution graph.
func (g *Graph) termination(add func(Violation)) {
	comps := g.loopComponents()
	sort.Slice(comps, func(a, b int) bool { return g.depth[comps[a].entry] < g.depth[comps[b].entry] })
	for k, c := range comps {
		if k >= maxCandidates {
			break
		}
		cycle := g.shortestCycle(c.entry, c.member)
		if cycle == nil {
			continue
		}
		t := g.cycleTrace(c.entry, cycle, loopWork)
		var names []string
		var first *StateRef
		seen := map[string]bool{}
		for _, s := range t.Steps[max(t.Loop, 0):] {
			for i := range s.States {
				r := s.States[i]
				if first == nil {
					first = &r
				}
				if !seen[r.Name] {
					seen[r.Name] = true
					names = append(names, r.Name)
				}
			}
		}
		loc := StateRef{Name: "-"}
		if first != nil {
			loc = *first
		}
		add(Violation{Invariant: Termination, State: loc, Trace: t, Message: fmt.Sprintf(
			"the execution can loop forever through %s: no choice is decided on the way, so nothing but failures, timers and the engine drive the loop "+
				"(a catch that leads back retries without bound)", strings.Join(names, " → "))})
	}
}

// loopComponent is a strongly connected set of states with a cycle of
// loop moves, not left by a fair execution timeout.
type loopComponent struct {
	entry  int32 // the member closest to the start
	member func(int32) bool
}

// loopComponents computes the strongly connected components of the loop
// moves (Tarjan's algorithm, iterative) and returns those with a cycle.
func (g *Graph) loopComponents() []loopComponent {
	n := g.NumStates()
	index := make([]int32, n) // 0: not visited yet; otherwise order+1
	low := make([]int32, n)
	onStack := make([]bool, n)
	comp := make([]int32, n)
	for i := range comp {
		comp[i] = -1
	}
	var stack []int32
	type frame struct{ v, e int32 }
	var call []frame
	next := int32(1)
	ncomp := int32(0)
	visit := func(v int32) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		call = append(call, frame{v, g.edgeStart[v]})
	}
	for s := 0; s < n; s++ {
		if index[s] != 0 {
			continue
		}
		visit(int32(s))
		for len(call) > 0 {
			fr := &call[len(call)-1]
			v := fr.v
			if fr.e < g.edgeStart[v+1] {
				e := fr.e
				fr.e++
				if !loopMove(g.edgeFlags[e]) {
					continue
				}
				w := g.edgeTo[e]
				if index[w] == 0 {
					visit(w)
				} else if onStack[w] {
					low[v] = min(low[v], index[w])
				}
				continue
			}
			if low[v] == index[v] {
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp[w] = ncomp
					if w == v {
						break
					}
				}
				ncomp++
			}
			call = call[:len(call)-1]
			if len(call) > 0 {
				u := call[len(call)-1].v
				low[u] = min(low[u], low[v])
			}
		}
	}
	size := make([]int32, ncomp)
	entry := make([]int32, ncomp)
	fair := make([]bool, ncomp)
	for c := range entry {
		entry[c], fair[c] = -1, true
	}
	for v := 0; v < n; v++ {
		c := comp[v]
		size[c]++
		if entry[c] < 0 || g.depth[v] < g.depth[entry[c]] {
			entry[c] = int32(v)
		}
		if g.flags[v]&sExecTimer == 0 {
			fair[c] = false
		}
	}
	cyclic := make([]bool, ncomp)
	for v := 0; v < n; v++ {
		for e := g.edgeStart[v]; e < g.edgeStart[v+1]; e++ {
			if loopMove(g.edgeFlags[e]) && comp[g.edgeTo[e]] == comp[v] && (size[comp[v]] > 1 || g.edgeTo[e] == int32(v)) {
				cyclic[comp[v]] = true
			}
		}
	}
	var out []loopComponent
	for c := int32(0); c < ncomp; c++ {
		if !cyclic[c] || fair[c] {
			continue
		}
		c := c
		out = append(out, loopComponent{entry: entry[c], member: func(v int32) bool { return comp[v] == c }})
	}
	return out
}

// shortestCycle returns a shortest cycle of loop moves from entry back to
// entry inside a component: entry, ..., entry.
func (g *Graph) shortestCycle(entry int32, member func(int32) bool) []int32 {
	parent := map[int32]int32{}
	queue := []int32{entry}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for e := g.edgeStart[v]; e < g.edgeStart[v+1]; e++ {
			w := g.edgeTo[e]
			if !loopMove(g.edgeFlags[e]) || !member(w) {
				continue
			}
			if w == entry {
				path := []int32{entry}
				for u := v; u != entry; u = parent[u] {
					path = append(path, u)
				}
				path = append(path, entry)
				for l, r := 0, len(path)-1; l < r; l, r = l+1, r-1 {
					path[l], path[r] = path[r], path[l]
				}
				return path
			}
			if _, ok := parent[w]; !ok {
				parent[w] = v
				queue = append(queue, w)
			}
		}
	}
	return nil
}
