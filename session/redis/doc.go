// Package redis is a session.Store on Redis, for several gateways that share
// one roaming domain: a citizen who signs in at one gateway is accepted by
// every other.
//
// Each session is one hash, "<prefix>{<id>}", whose key expires when the
// session ends (plus Options.Keep). The braces are a Redis Cluster hash tag:
// every command touches one key, so the store works on a cluster as on a
// single server. Creates, re-binds and revocations are announced on the
// pub/sub channel "<prefix>changes" (Watch), so that every gateway's
// in-memory index takes them over at once.
//
// Durability is the server's: run Redis with appendonly yes and appendfsync
// always for "acknowledged means on disk" (Redis 7.0 has no WAITAOF). Open
// warns through its returned Warnings when the server is configured weaker.
package redis
