package sockjs_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockjs-cluster/sockjs"
	"github.com/sockjs-cluster/sockjs/store"
	storemem "github.com/sockjs-cluster/sockjs/store/memory"
)

// hangingStore's RenewNode never answers, as over a blackholed connection:
// it returns only when its context ends.
type hangingStore struct {
	store.Store
	hang    atomic.Bool
	renewed atomic.Int64
}

func (h *hangingStore) RenewNode(ctx context.Context, route, node string, req store.NodeRequest) (store.NodeLease, error) {
	h.renewed.Add(1)
	if h.hang.Load() {
		<-ctx.Done()
		return store.NodeLease{}, ctx.Err()
	}
	return h.Store.RenewNode(ctx, route, node, req)
}

// TestLeaseRenewalDoesNotHang: a store that stops answering does not stall
// the lease loop; each renewal gives up after a renewal period and the
// loop goes on trying (and can tell that the lease ran out).
func TestLeaseRenewalDoesNotHang(t *testing.T) {
	st := &hangingStore{Store: storemem.New(storemem.Options{})}
	startNode(t, sockjs.Config{Store: st}, newRecorder().handler(nil), sockjs.Options{ReceiverLease: 300 * time.Millisecond})
	deadline := time.Now().Add(5 * time.Second)
	for st.renewed.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no lease renewal")
		}
		time.Sleep(10 * time.Millisecond)
	}
	st.hang.Store(true)
	before := st.renewed.Load()
	// The loop retries every second while the store fails; a hung call
	// would leave it at one more attempt for ever.
	for st.renewed.Load() < before+3 {
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatalf("%d renewal attempts after the store hung, want the loop to go on", st.renewed.Load()-before)
		}
		time.Sleep(20 * time.Millisecond)
	}
	st.hang.Store(false)
}
