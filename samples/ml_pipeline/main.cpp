// SPDX-License-Identifier: Apache-2.0
// Seed example 8-12: a two-stage ML pipeline (standard scaler, then a
// nearest-centroid classifier), each stage a virtual actor whose fitted
// parameters persist through save/load hooks. One workflow fits the
// pipeline; another uses the same actors for prediction.
#include <perdure/perdure.hpp>

#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <unistd.h>

using namespace perdure;

using matrix = std::vector<std::vector<double>>;

/// What flows through the pipeline: features, labels and the mode.
struct batch {
  matrix X;
  std::vector<int> y;
  std::string mode; // "fit" or "predict"
};
PERDURE_FIELDS(batch, X, y, mode)


// -- the estimators, each a virtual actor with save/load hooks -----------------

struct standard_scaler {
  std::vector<double> mean, scale;

  batch fit(batch b) {
    auto n = static_cast<double>(b.X.size());
    auto d = b.X.empty() ? 0 : b.X[0].size();
    mean.assign(d, 0);
    scale.assign(d, 0);
    for (auto& row : b.X)
      for (std::size_t j = 0; j < d; ++j)
        mean[j] += row[j] / n;
    for (auto& row : b.X)
      for (std::size_t j = 0; j < d; ++j)
        scale[j] += (row[j] - mean[j]) * (row[j] - mean[j]) / n;
    for (auto& s : scale)
      s = s > 0 ? std::sqrt(s) : 1;
    return predict(std::move(b));
  }
  batch predict(batch b) const {
    if (mean.empty())
      throw std::logic_error("standard_scaler is not fitted");
    for (auto& row : b.X)
      for (std::size_t j = 0; j < row.size(); ++j)
        row[j] = (row[j] - mean[j]) / scale[j];
    return b;
  }
  // The seed's __getstate__/__setstate__: the state as a plain dictionary.
  using saved = std::map<std::string, std::vector<double>>;
  saved perdure_save() const {
    return {{"mean", mean}, {"scale", scale}};
  }
  static standard_scaler perdure_load(saved s) {
    return {s["mean"], s["scale"]};
  }
};
PERDURE_ACTOR(standard_scaler, (), (fit, predict))

struct centroid_classifier {
  std::map<int, std::vector<double>> centroids;

  batch fit(batch b) {
    std::map<int, int> counts;
    centroids.clear();
    for (std::size_t i = 0; i < b.X.size(); ++i) {
      auto& c = centroids[b.y[i]];
      c.resize(b.X[i].size());
      for (std::size_t j = 0; j < c.size(); ++j)
        c[j] += b.X[i][j];
      ++counts[b.y[i]];
    }
    for (auto& [label, c] : centroids)
      for (auto& v : c)
        v /= counts[label];
    return b;
  }
  batch predict(batch b) const {
    if (centroids.empty())
      throw std::logic_error("centroid_classifier is not fitted");
    b.y.clear();
    for (auto& row : b.X) {
      int best = 0;
      double best_d = INFINITY;
      for (auto& [label, c] : centroids) {
        double d = 0;
        for (std::size_t j = 0; j < c.size(); ++j)
          d += (row[j] - c[j]) * (row[j] - c[j]);
        if (d < best_d)
          best_d = d, best = label;
      }
      b.y.push_back(best);
    }
    return b;
  }
  using saved = std::vector<std::pair<int, std::vector<double>>>;
  saved perdure_save() const {
    return {centroids.begin(), centroids.end()};
  }
  static centroid_classifier perdure_load(saved s) {
    return {{s.begin(), s.end()}};
  }
};
PERDURE_ACTOR(centroid_classifier, (), (fit, predict))

// -- the pipeline steps ------------------------------------------------------------

template <class Estimator>
batch run_stage(batch in, const std::string& name) {
  auto va = this_step::engine().actor<Estimator>(name);
  if (in.mode == "fit")
    return va.call(&Estimator::fit, std::move(in));
  return va.call(&Estimator::predict, std::move(in)); // readonly
}

const auto scaling = step("scaling", [](batch in, std::string name) {
  return run_stage<standard_scaler>(std::move(in), name);
});
const auto classification = step("classification",
                                 [](batch in, std::string name) {
  return run_stage<centroid_classifier>(std::move(in), name);
});

int main() {
  engine e;
  // 10,000 rows of 4 features in 0..99; the label is A + B > 99.
  std::mt19937 gen{42};
  std::uniform_int_distribution<int> dist{0, 99};
  batch train{{}, {}, "fit"}, test{{}, {}, "predict"};
  std::vector<int> truth;
  for (int i = 0; i < 10000; ++i) {
    std::vector<double> row(4);
    for (auto& v : row)
      v = dist(gen);
    int label = row[0] + row[1] > 99 ? 1 : 0;
    auto& b = i < 8000 ? train : test;
    b.X.push_back(std::move(row));
    (i < 8000 ? b.y.push_back(label) : truth.push_back(label));
  }
  auto run = std::to_string(getpid());
  auto scaler = "standardscalar-" + run, model = "nearestcentroid-" + run;
  e.run(classification(scaling(train, scaler), model), "training_pipeline-" + run);
  auto out = e.run(classification(scaling(test, scaler), model),
                   "prediction_pipeline-" + run);
  if (out.y.size() != truth.size()) {
    std::fprintf(stderr, "ml_pipeline: %zu labels for %zu rows\n", out.y.size(),
                 truth.size());
    return 1;
  }
  int right = 0;
  for (std::size_t i = 0; i < out.y.size(); ++i)
    right += out.y[i] == truth[i] ? 1 : 0;
  std::printf("predicted %zu labels, accuracy %.2f\n", out.y.size(),
              right / 2000.0);
}
