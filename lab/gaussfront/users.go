package gaussfront

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/xckit/xckit/internal/atomicfile"
	"github.com/xckit/xckit/internal/dbx"
)

// Users is the front's password store, a JSON file (mode 0600) of openGauss verifiers
// by role name: what openGauss keeps in pg_authid.rolpassword, never a password. The
// lab writes it when it sets its roles' passwords; the front writes it when a client
// sets one with CREATE/ALTER ROLE ... PASSWORD, as openGauss derives its verifier from
// the password in the statement. Both go through a file lock.
type Users struct {
	Path      string
	Iteration int // auth_iteration_count for new verifiers (openGauss's default: 10000)
}

type usersFile struct {
	// Methods names the roles whose verifier is sm3 (password_encryption_type=3 when
	// their password was set); every other role's is sha256 (the default, 2).
	Methods map[string]string            `json:"methods,omitempty"`
	Roles   map[string]dbx.GaussVerifier `json:"roles"`
}

func (u Users) locked(write bool, fn func(f *usersFile) error) error {
	lock, err := os.OpenFile(u.Path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("gauss front: lock the password store: %w", err)
	}
	defer lock.Close()
	how := syscall.LOCK_SH
	if write {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(lock.Fd()), how); err != nil {
		return fmt.Errorf("gauss front: lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	f := usersFile{Roles: map[string]dbx.GaussVerifier{}}
	b, err := os.ReadFile(u.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("gauss front: read the password store: %w", err)
	default:
		if err := json.Unmarshal(b, &f); err != nil {
			return fmt.Errorf("gauss front: password store %s is damaged: %v", u.Path, err)
		}
		if f.Roles == nil {
			f.Roles = map[string]dbx.GaussVerifier{}
		}
	}
	if err := fn(&f); err != nil || !write {
		return err
	}
	out, _ := json.MarshalIndent(f, "", "  ")
	return atomicfile.Write(u.Path, out, 0o600)
}

// Lookup returns a role's verifier.
func (u Users) Lookup(role string) (v dbx.GaussVerifier, ok bool, err error) {
	err = u.locked(false, func(f *usersFile) error {
		v, ok = f.Roles[role]
		return nil
	})
	return v, ok, err
}

// SetMethod records that role's verifiers are sm3 ("sm3") or sha256 ("sha256").
func (u Users) SetMethod(role, method string) error {
	return u.locked(true, func(f *usersFile) error {
		if f.Methods == nil {
			f.Methods = map[string]string{}
		}
		f.Methods[role] = method
		return nil
	})
}

// SetPassword stores a fresh verifier of password for role, in the role's method.
func (u Users) SetPassword(role, password string) error {
	iter := u.Iteration
	if iter == 0 {
		iter = DefaultIteration
	}
	return u.locked(true, func(f *usersFile) error {
		v, err := dbx.NewGaussVerifier(password, f.Methods[role] == "sm3", iter)
		if err != nil {
			return err
		}
		f.Roles[role] = v
		return nil
	})
}

// Drop forgets roles.
func (u Users) Drop(roles ...string) error {
	return u.locked(true, func(f *usersFile) error {
		for _, r := range roles {
			delete(f.Roles, r)
		}
		return nil
	})
}
