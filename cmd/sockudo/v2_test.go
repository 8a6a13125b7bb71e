package main

import (
	"testing"

	"github.com/sockudo/sockudo-go/configs"
)

func TestV2OptionsFromConfig(t *testing.T) {
	cfg := configs.Default()
	o := v2Options(cfg)
	if o.Recovery != nil || o.EchoControlDisabled || o.EchoOffByDefault || o.EphemeralDisabled || o.RecoveryMaxBufferSize != 100 {
		t.Fatalf("defaults: %+v", o)
	}
	cfg.ConnectionRecovery.Enabled = true
	cfg.EchoControl = configs.EchoControl{Enabled: false, DefaultEchoMessages: false}
	cfg.Ephemeral.Enabled = false
	o = v2Options(cfg)
	if o.Recovery == nil || !o.EchoControlDisabled || !o.EchoOffByDefault || !o.EphemeralDisabled {
		t.Fatalf("configured: %+v", o)
	}
	off := false
	cfg.AppManager.Array.Apps = []configs.App{{ID: "1", Key: "k", Secret: "s", Enabled: true,
		ConnectionRecovery: configs.AppRecovery{Enabled: &off, MaxBufferSize: 5}}}
	if a := engineApps(cfg)[0]; !a.RecoveryDisabled || a.RecoveryMaxBufferSize != 5 {
		t.Fatalf("app policy: %+v", a)
	}
}
