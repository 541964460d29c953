package main

// fiveStep is the benchmark workflow: five tasks, three of them
// mutations with compensations, retries with exponential backoff, a
// timeout on the payment, and a last step without retries whose failure
// compensates the three completed mutations.
const fiveStep = `
version: "1.0"
name: five-step-saga
states:
- name: Reserve
  action: reserve
  mutates: true
  compensate: release
  on_failure: {retry: 2, backoff: exponential, interval: 100ms}
  next: Charge
- name: Charge
  action: charge
  mutates: true
  compensate: refund
  timeout: 2s
  on_failure: {retry: 3, backoff: exponential, interval: 200ms}
  next: Ship
- name: Ship
  action: ship
  mutates: true
  compensate: cancel-shipment
  on_failure: {retry: 2, backoff: constant, interval: 500ms}
  next: Notify
- name: Notify
  action: notify
  on_failure: {retry: 1, interval: 1s}
  next: Record
- name: Record
  action: record
  end: true
`

// fiveStepProfile is how its functions behave in the benchmark.
const fiveStepProfile = `
defaults:
  latency: {dist: lognormal, median: 40ms, sigma: 0.5}
functions:
  reserve: {failures: {Stock.Unavailable: 0.05}}
  charge:
    latency: {dist: gamma, shape: 3, mean: 150ms}
    failures: {Card.Declined: 0.05, Lambda.ServiceException: 0.02}
    hang: 0.002
  ship: {latency: {dist: lognormal, median: 80ms, p99: 400ms}, failure: 0.1, cold_start: 0.05}
  notify: {latency: {dist: exponential, mean: 20ms}, failure: 0.05}
  record: {latency: 10ms, failure: 0.03}
  refund: {failure: 0.01}
`
