package manager

import (
	"context"
	"crypto/rand"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/snapshot"
)

// minSaltLen is the least salt accepted from an existing Secret; made ones are 32 bytes.
const minSaltLen = 16

// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;create,namespace=logplane-system

// credentialsSalt returns the salt of the names of credentials in every configuration
// (snapshot.Snapshot.Salt), from the Secret snapshot.SaltSecretName in the operator's
// namespace, which it creates with a random salt the first time. A Secret in that
// namespace is out of every tenant's reach, as the platform's own credentials are; the
// salt is not random per start, so that a restarted operator renders the same names
// and restarts no agent. Deleting the Secret makes a new salt at the next start: every
// name changes once, and every agent rolls out.
func credentialsSalt(ctx context.Context, c client.Writer, r client.Reader, namespace string) ([]byte, error) {
	key := client.ObjectKey{Namespace: namespace, Name: snapshot.SaltSecretName}
	for range 2 {
		var s corev1.Secret
		err := r.Get(ctx, key, &s)
		if err == nil {
			salt := s.Data[snapshot.SaltKey]
			if len(salt) < minSaltLen {
				return nil, fmt.Errorf("secret %s/%s holds no salt of at least %d bytes under %q; delete it to have a new one made",
					namespace, key.Name, minSaltLen, snapshot.SaltKey)
			}
			return salt, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("failed to get Secret %s: %w", key.Name, err)
		}
		salt := make([]byte, 32)
		if _, err := rand.Read(salt); err != nil {
			return nil, err
		}
		immutable := true
		s = corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: key.Name,
				Labels: map[string]string{agent.LabelManagedBy: "logplane", agent.LabelComponent: "credentials-salt"}},
			Immutable: &immutable,
			Type:      corev1.SecretTypeOpaque,
			Data:      map[string][]byte{snapshot.SaltKey: salt},
		}
		err = c.Create(ctx, &s)
		if err == nil {
			return salt, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("failed to create Secret %s: %w", key.Name, err)
		}
		// Another replica made it first: read theirs.
	}
	return nil, fmt.Errorf("secret %s/%s was deleted while it was being read", namespace, key.Name)
}
