package curation

import (
	"context"
	"fmt"
	"time"

	"github.com/ctibroker/ctibroker/storage"
)

// materialize brings every target's membership up to date for one page of
// scored values.
func (ru *run) materialize(ctx context.Context, items []*item) error {
	var need []string
	if ru.Identity != "" {
		need = append(need, ru.Identity)
	}
	for _, it := range items {
		if it.pub == nil {
			continue
		}
		if ref := it.meta.TLP.MarkingRef(); ref != "" {
			need = append(need, ref)
		}
		for _, r := range ru.rels[it.rec.ID] {
			need = append(need, r.target)
		}
	}
	if err := ru.resolve(ctx, need); err != nil {
		return err
	}
	// The ATT&CK ids and tactics of the attack patterns (and software, groups)
	// a value indicates count as the value's own.
	for _, it := range items {
		if it.pub == nil {
			continue
		}
		n := len(it.meta.Attack)
		for _, r := range ru.rels[it.rec.ID] {
			if o := ru.context[r.target]; o != nil {
				it.meta.Attack = append(it.meta.Attack, o.attack...)
			}
		}
		if len(it.meta.Attack) > n {
			it.meta.Attack = uniq(it.meta.Attack)
		}
	}
	for _, tg := range ru.targets {
		tg.refs = tg.refs[:0]
		for _, it := range items {
			if it.pub != nil {
				ru.decide(tg, it)
			}
		}
		for i := 0; i < len(tg.refs); i += 5000 {
			part := tg.refs[i:min(i+5000, len(tg.refs))]
			if _, err := ru.store.AddMembers(ctx, tg.Collection, part); err != nil {
				return fmt.Errorf("add members to %q: %w", tg.Collection, err)
			}
		}
	}
	return nil
}

// decide applies one value to one target.
func (ru *run) decide(tg *target, it *item) {
	id := it.rec.ID
	have, has := tg.members[id]
	ver := it.pub.Version
	st := tg.stats
	pubRef := storage.VersionRef{Collection: ru.published(), ID: id, Version: ver}
	if it.withdrawn && it.sco {
		// No STIX version can withdraw an SCO: it leaves like a collection-specific change.
		if has && !tg.dormant[id] {
			tg.dormant[id] = true
			tg.dirty = true
			st.Left++
			ru.audit(tg, it, ActionLeave, it.reason)
		}
		return
	}
	if it.withdrawn {
		// A global reason: the withdrawing version enters every collection that
		// ever published the value, and no other.
		if has && !have.Equal(ver) {
			tg.refs = append(tg.refs, pubRef)
			tg.members[id] = ver
			st.Withdrawn++
			ru.audit(tg, it, ActionWithdraw, it.reason)
		}
		if tg.dormant[id] {
			delete(tg.dormant, id)
			tg.dirty = true
		}
		return
	}
	if why := tg.m.why(&it.meta, ru.asOf); why != "" {
		if has && !tg.dormant[id] {
			tg.dormant[id] = true
			tg.dirty = true
			st.Left++
			ru.audit(tg, it, ActionLeave, "no longer selected: "+why)
		}
		return
	}
	st.Members++
	switch {
	case !has:
		tg.refs = append(tg.refs, pubRef)
		st.Entered++
		ru.audit(tg, it, ActionEnter, "selected")
	case !have.Equal(ver):
		tg.refs = append(tg.refs, pubRef)
		if tg.dormant[id] {
			st.Entered++
			ru.audit(tg, it, ActionEnter, "selected again")
		} else {
			st.Updated++
			ru.audit(tg, it, ActionUpdate, "new version")
		}
	case tg.dormant[id]:
		st.Returned++
		ru.audit(tg, it, ActionReturn, "selected again")
	}
	tg.members[id] = ver
	if tg.dormant[id] {
		delete(tg.dormant, id)
		tg.dirty = true
	}
	// The context that makes the member self-contained.
	if !it.sco {
		ru.bring(tg, ru.Identity, 0) // the indicator's creator; SCOs have none
	}
	ru.bring(tg, it.meta.TLP.MarkingRef(), 0)
	for _, r := range ru.rels[id] {
		o := ru.context[r.target]
		if o == nil || !o.found {
			continue // the relationship's target is not in the pool: leave both out
		}
		ru.bring(tg, r.target, 1)
		ru.add(tg, r.id, r.version)
	}
}

// bring adds the pool object id and, depth levels down, what it refers to.
func (ru *run) bring(tg *target, id string, depth int) {
	if id == "" {
		return
	}
	o := ru.context[id]
	if o == nil || !o.found {
		return
	}
	ru.add(tg, id, o.version)
	if depth > 0 {
		for _, r := range o.refs {
			ru.bring(tg, r, depth-1)
		}
	}
}

// add adds a membership record for the pool version (id, v) unless it is the
// member's latest already.
func (ru *run) add(tg *target, id string, v time.Time) {
	if have, ok := tg.members[id]; ok && !have.Before(v) {
		return
	}
	tg.members[id] = v
	tg.refs = append(tg.refs, storage.VersionRef{Collection: ru.pool(), ID: id, Version: v})
	tg.stats.Context++
}
