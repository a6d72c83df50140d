// A hand-written window of the circuit: the lower bound the compiled Brian2 window is measured
// against (benchmarks/bench_kernel.py, which writes params.h from the composed config and
// compiles this file).
//
// The same equations and steps as the generated code (circuits/spiking/: cells.py,
// receptors.py, vesicles.py, network.py, field_potential.py), for one window from the drug-free
// initial state, one thread, double precision:
//   - per population, the implicit steps of the vesicle pool (pyramidal cells), the block of every
//     species and the NMDA open fraction; then forward Euler of the membrane, the conductances,
//     the NMDA rise variable and the window accumulators (one exp for the Mg block and one for
//     the voltage-dependent unblock per neuron and step, as in the generated code);
//   - threshold, reset, refractoriness, the pyramidal vesicle release;
//   - spikes delivered after the synaptic delay through per-pathway CSR tables drawn at the
//     window's start (geometric skipping), pyramidal-to-pyramidal synapses as spine sites;
//   - the Poisson background: per population and step a Poisson number of inputs (exponential
//     inter-arrival times, xoshiro256+) spread uniformly over its cells, as independent Poisson
//     inputs of n_sources x rate_hz per cell (the generated code draws one binomial per cell
//     and step);
//   - the field proxy's summed currents every field step.
// What it leaves out: reading run arguments and writing results files.
// Output: one JSON line (spike counts, synapses, CPU seconds of drawing the synapses and of the loop).

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <vector>

#include "params.h"

static_assert(N_SPECIES == 5, "the update loop is written out for five species");

namespace {

struct Rng {  // xoshiro256+ (Blackman & Vigna 2018), seeded by splitmix64
  uint64_t s[4];
  explicit Rng(uint64_t seed) {
    for (auto& x : s) {
      seed += 0x9e3779b97f4a7c15ULL;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      x = z ^ (z >> 31);
    }
  }
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t next() {
    const uint64_t result = s[0] + s[3];
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
  double uniform() { return (next() >> 11) * 0x1.0p-53; }                 // [0, 1)
  double exponential() { return -std::log(1.0 - uniform()); }            // mean 1
};

struct Population {
  int n;
  double c_m, g_l, e_l, v_th, v_reset, g_nmda_max, w_ext;
  int t_ref_steps;
  bool excitatory;
  std::vector<double> v, g_ampa, g_pv, g_sst, x_nmda, s_nmda;
  std::vector<double> q_ampa, q_nmda, q_inh, open_time, open_unbind, open_access;
  std::vector<double> b[N_SPECIES], c[N_SPECIES];
  std::vector<double> x_ves, last_release, released, ampa_local;
  std::vector<int> refractory_until;
  std::vector<int> spikes_i, spikes_step;

  Population(int n_, const double* p, Rng& rng, bool exc)
      : n(n_), c_m(p[0]), g_l(p[1]), e_l(p[2]), v_th(p[3]), v_reset(p[4]), g_nmda_max(p[6]), w_ext(p[7]),
        t_ref_steps(static_cast<int>(std::lround(p[5] / DT))), excitatory(exc) {
    auto zeros = [&](std::vector<double>& a) { a.assign(n, 0.0); };
    for (auto* a : {&g_ampa, &g_pv, &g_sst, &x_nmda, &s_nmda, &q_ampa, &q_nmda, &q_inh, &open_time,
                    &open_unbind, &open_access})
      zeros(*a);
    for (int k = 0; k < N_SPECIES; ++k) {
      zeros(b[k]);
      zeros(c[k]);
    }
    v.resize(n);
    for (auto& x : v) x = e_l + (v_th - e_l) * rng.uniform();
    zeros(ampa_local);  // every population counts its local AMPA activation, as the product does
    if (excitatory) {
      x_ves.assign(n, X_VES_START);
      zeros(last_release);
      zeros(released);
    }
    refractory_until.assign(n, -1);
  }
};

struct Pathway {
  int pre, post;
  double weight;                 // S per spike
  std::vector<int64_t> offsets;  // CSR by presynaptic cell
  std::vector<int32_t> targets;
  std::vector<uint8_t> spine;    // pyramidal-to-pyramidal: site present (1) or not (0)
};

// Each (pre, post) pair with probability p: gaps between successive pairs are geometric.
Pathway connect(int pre, int post, int n_pre, int n_post, double p, double weight, bool sites, Rng& rng) {
  Pathway w{pre, post, weight, {}, {}, {}};
  w.offsets.assign(n_pre + 1, 0);
  const double log_q = std::log(1.0 - p);
  const int64_t total = static_cast<int64_t>(n_pre) * n_post;
  int64_t k = static_cast<int64_t>(std::floor(std::log(1.0 - rng.uniform()) / log_q));
  while (k < total) {
    const int i = static_cast<int>(k / n_post);
    w.offsets[i + 1]++;
    w.targets.push_back(static_cast<int32_t>(k % n_post));
    if (sites) w.spine.push_back(rng.uniform() < SPINE_OCCUPANCY ? 1 : 0);
    k += 1 + static_cast<int64_t>(std::floor(std::log(1.0 - rng.uniform()) / log_q));
  }
  for (int i = 0; i < n_pre; ++i) w.offsets[i + 1] += w.offsets[i];
  return w;
}

double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

// The implicit fraction steps (vesicle pool, block of every species, NMDA open fraction), then
// Euler of the continuous variables, with every right-hand side read at the step's start. One
// pass over plain arrays that GCC vectorises; exp((v - V_ref) / V_e) is computed once for the
// unblock rate and its accumulator.
void update(Population& P, int step) {
  const int n = P.n;
  double* __restrict v_ = P.v.data();
  double* __restrict ga_ = P.g_ampa.data();
  double* __restrict gp_ = P.g_pv.data();
  double* __restrict gs_ = P.g_sst.data();
  double* __restrict x_ = P.x_nmda.data();
  double* __restrict s_ = P.s_nmda.data();
  double* __restrict qa_ = P.q_ampa.data();
  double* __restrict qn_ = P.q_nmda.data();
  double* __restrict qi_ = P.q_inh.data();
  double* __restrict ot_ = P.open_time.data();
  double* __restrict ou_ = P.open_unbind.data();
  double* __restrict oa_ = P.open_access.data();
  double* __restrict xv_ = P.excitatory ? P.x_ves.data() : nullptr;
  const int* __restrict ref_ = P.refractory_until.data();
  double* __restrict b0 = P.b[0].data();
  double* __restrict b1 = P.b[1].data();
  double* __restrict b2 = P.b[2].data();
  double* __restrict b3 = P.b[3].data();
  double* __restrict b4 = P.b[4].data();
  const double* __restrict c0 = P.c[0].data();
  const double* __restrict c1 = P.c[1].data();
  const double* __restrict c2 = P.c[2].data();
  const double* __restrict c3 = P.c[3].data();
  const double* __restrict c4 = P.c[4].data();
  const double g_l = P.g_l, e_l = P.e_l, c_m = P.c_m, g_max = P.g_nmda_max;
  if (xv_ != nullptr) {
#pragma omp simd
    for (int i = 0; i < n; ++i) {
      double bt = b0[i] + b1[i] + b2[i] + b3[i] + b4[i];
      bt = bt < 0.0 ? 0.0 : (bt > 1.0 ? 1.0 : bt);
      const double tau = TAU_REC * (1.0 + RECYCLING_SLOWING * bt);
      xv_[i] = (xv_[i] + DT / tau) / (1.0 + DT / tau);
    }
  }
#pragma omp simd
  for (int i = 0; i < n; ++i) {
    const double v = v_[i], s = s_[i];
    double bt = b0[i] + b1[i] + b2[i] + b3[i] + b4[i];
    bt = bt < 0.0 ? 0.0 : (bt > 1.0 ? 1.0 : bt);
    const double unbind = std::exp((v - V_BLOCK_REF) / V_BLOCK_E);
    const double mg_exp = std::exp(-MG_SLOPE * v * 1e3);
    const double mg_access = 1.0 / (1.0 + MG_COMPETITION * MG / MG_HALF * mg_exp);
    const double sa = s * mg_access * DT;
    const double a0 = sa * KON[0] * c0[i], a1 = sa * KON[1] * c1[i], a2 = sa * KON[2] * c2[i];
    const double a3 = sa * KON[3] * c3[i], a4 = sa * KON[4] * c4[i];
    const double loss = (s * KOFF * unbind + (1.0 - s) * KESCAPE) * DT;
    const double free_ = (1.0 - bt + loss) / (1.0 + loss + a0 + a1 + a2 + a3 + a4);
    const double keep = 1.0 / (1.0 + loss);
    const double nb0 = (b0[i] + a0 * free_) * keep, nb1 = (b1[i] + a1 * free_) * keep;
    const double nb2 = (b2[i] + a2 * free_) * keep, nb3 = (b3[i] + a3 * free_) * keep;
    const double nb4 = (b4[i] + a4 * free_) * keep;
    b0[i] = nb0;
    b1[i] = nb1;
    b2[i] = nb2;
    b3[i] = nb3;
    b4[i] = nb4;
    const double x = x_[i];
    const double s1 = (s + ALPHA_NMDA * x * DT) / (1.0 + (ALPHA_NMDA * x + 1.0 / TAU_NMDA_DECAY) * DT);
    s_[i] = s1;
    double bt1 = nb0 + nb1 + nb2 + nb3 + nb4;
    bt1 = bt1 < 0.0 ? 0.0 : (bt1 > 1.0 ? 1.0 : bt1);
    const double mg_block = 1.0 / (1.0 + MG / MG_HALF * mg_exp);
    const double g_nmda = g_max * s1 * (1.0 - bt1) * mg_block;
    const double ga = ga_[i], gp = gp_[i], gs = gs_[i];
    const double i_syn = (ga + g_nmda) * (v - E_EXC) + (gp + gs) * (v - E_INH);
    const double v_euler = v + DT * (-g_l * (v - e_l) - i_syn) / c_m;
    v_[i] = step >= ref_[i] ? v_euler : v;
    ga_[i] = ga - DT * ga / TAU_AMPA;
    gp_[i] = gp - DT * gp / TAU_GABA_PV;
    gs_[i] = gs - DT * gs / TAU_GABA_SST;
    x_[i] = x - DT * x / TAU_NMDA_RISE;
    qa_[i] += DT * ga;
    qn_[i] += DT * g_nmda;
    qi_[i] += DT * (gp + gs);
    ot_[i] += DT * s1;
    ou_[i] += DT * s1 * unbind;
    oa_[i] += DT * s1 * mg_access;
  }
}

void threshold(Population& P, int step, std::vector<int>& fired) {
  const bool settle = step * DT >= T_SETTLE;
  fired.clear();
  for (int i = 0; i < P.n; ++i) {
    if (P.v[i] > P.v_th && step >= P.refractory_until[i]) {
      fired.push_back(i);
      P.v[i] = P.v_reset;
      P.refractory_until[i] = step + P.t_ref_steps;
      if (P.excitatory) {
        P.last_release[i] = U_RELEASE * P.x_ves[i];
        P.x_ves[i] -= DEPRESSION * P.last_release[i];
        if (settle) P.released[i] += P.last_release[i];
      }
      P.spikes_i.push_back(i);
      P.spikes_step.push_back(step);
    }
  }
}

void deliver(const Pathway& w, std::vector<Population>& pops, const std::vector<int>& spikes, int step) {
  Population& pre = pops[w.pre];
  Population& post = pops[w.post];
  const bool settle = step * DT >= T_SETTLE;
  for (int i : spikes) {
    const int64_t from = w.offsets[i], to = w.offsets[i + 1];
    if (w.pre == 0) {  // pyramidal: AMPA and NMDA scaled by the release fraction
      const double efficacy0 = pre.last_release[i] / U_BASELINE;
      const double nmda = w.weight * NMDA_RATIO[w.post] / post.g_nmda_max;
      for (int64_t k = from; k < to; ++k) {
        const double efficacy = w.spine.empty() ? efficacy0 : efficacy0 * w.spine[k];
        const int j = w.targets[k];
        post.g_ampa[j] += w.weight * AMPA_SCALE * efficacy;
        post.ampa_local[j] += AMPA_SCALE * efficacy * (settle ? 1.0 : 0.0);
        post.x_nmda[j] += nmda * efficacy;
      }
    } else {
      std::vector<double>& g = w.pre == 1 ? post.g_pv : post.g_sst;
      for (int64_t k = from; k < to; ++k) g[w.targets[k]] += w.weight;
    }
  }
}

// The population's background inputs in one step: a Poisson number (mean n x n_sources x
// rate x dt, by exponential inter-arrival times) spread uniformly over its cells, the same
// statistics as independent per-cell Poisson inputs.
void background(Population& P, Rng& rng) {
  const double mean = P.n * BACKGROUND_PER_STEP;
  double t = rng.exponential();
  while (t < mean) {
    const int i = static_cast<int>(rng.uniform() * P.n);
    P.g_ampa[i] += P.w_ext;
    t += rng.exponential();
  }
}

}  // namespace

int main() {
  Rng rng(SEED);
  const auto wall0 = std::chrono::steady_clock::now();
  const double cpu0 = cpu_seconds();
  std::vector<Population> pops;
  for (int p = 0; p < 3; ++p) pops.emplace_back(COUNTS[p], CELL[p], rng, p == 0);
  std::vector<Pathway> pathways;
  long long n_synapses = 0;
  for (int p = 0; p < 3; ++p)
    for (int q = 0; q < 3; ++q)
      if (PROBABILITY[p][q] > 0) {
        const bool sites = p == 0 && q == 0;
        const double prob = sites ? PROBABILITY[p][q] / SPINE_OCCUPANCY : PROBABILITY[p][q];
        pathways.push_back(connect(p, q, COUNTS[p], COUNTS[q], prob, WEIGHT[p][q], sites, rng));
        n_synapses += static_cast<long long>(pathways.back().targets.size());
      }
  const double cpu_connect = cpu_seconds() - cpu0;

  const int steps = static_cast<int>(std::lround(WINDOW_S / DT));
  const int delay = static_cast<int>(std::lround(DELAY / DT));
  const int field_every = FIELD_STEPS;
  std::vector<std::vector<int>> queue[3];  // spikes per population, by step modulo delay + 1
  for (auto& q : queue) q.assign(delay + 1, {});
  std::vector<double> field_glu, field_gaba;
  field_glu.reserve(steps / field_every + 1);
  field_gaba.reserve(steps / field_every + 1);
  std::vector<int> fired;
  const double cpu1 = cpu_seconds();
  for (int step = 0; step < steps; ++step) {
    // the field proxy's sums, from the values at the step's start (before the state update)
    if (step % field_every == 0) {
      const Population& P = pops[0];
      double glu = 0.0, gaba = 0.0;
      for (int i = 0; i < P.n; ++i) {
        double b_total = 0.0;
        for (int k = 0; k < N_SPECIES; ++k) b_total += P.b[k][i];
        b_total = b_total < 0.0 ? 0.0 : (b_total > 1.0 ? 1.0 : b_total);
        const double mg_block = 1.0 / (1.0 + MG / MG_HALF * std::exp(-MG_SLOPE * P.v[i] * 1e3));
        glu += (P.g_ampa[i] + P.g_nmda_max * P.s_nmda[i] * (1.0 - b_total) * mg_block) * (P.v[i] - E_EXC);
        gaba += (P.g_pv[i] + P.g_sst[i]) * (P.v[i] - E_INH);
      }
      field_glu.push_back(glu);
      field_gaba.push_back(gaba);
    }
    for (auto& P : pops) update(P, step);
    for (int p = 0; p < 3; ++p) {
      threshold(pops[p], step, fired);
      queue[p][step % (delay + 1)] = fired;
    }
    const int arriving = (step + 1) % (delay + 1);  // spikes of step - delay
    if (step >= delay)
      for (const auto& w : pathways) deliver(w, pops, queue[w.pre][arriving], step);
    for (auto& P : pops) background(P, rng);
  }
  const double cpu_loop = cpu_seconds() - cpu1;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  std::printf("{\"spikes\": [%zu, %zu, %zu], \"synapses\": %lld, \"cpu_connect_s\": %.4f, \"cpu_loop_s\": %.4f, "
              "\"wall_s\": %.4f, \"field_samples\": %zu}\n",
              pops[0].spikes_i.size(), pops[1].spikes_i.size(), pops[2].spikes_i.size(), n_synapses, cpu_connect,
              cpu_loop, wall, field_glu.size());
  return 0;
}
