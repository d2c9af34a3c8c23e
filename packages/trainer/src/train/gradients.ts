/**
 * Gradients by parameter name — the one place that maps tfjs variables (process-wide names such as
 * `policy/h.0.attn.c_attn.weight_12`) to the names of a model's parameters (`h.0.attn.c_attn.weight`),
 * which the optimiser, the checkpoints and the data-parallel workers share.
 */
import * as tf from "@tensorflow/tfjs";

/** tfjs gradients keyed by variable name → the same tensors keyed by parameter name. */
export function gradientsByName(
  params: Map<string, tf.Variable>,
  grads: tf.NamedTensorMap,
): Map<string, tf.Tensor> {
  const nameOf = new Map([...params].map(([name, v]) => [v.name, name]));
  const named = new Map<string, tf.Tensor>();
  for (const [variableName, g] of Object.entries(grads)) {
    const name = nameOf.get(variableName);
    if (name === undefined) {
      g.dispose();
      throw new Error(`a gradient for variable ${variableName}, which is not a parameter being trained`);
    }
    named.set(name, g);
  }
  return named;
}

/**
 * The value of `loss` (a scalar built from the parameters) and its gradients by parameter name, for the
 * trainable parameters of `params`. The tensors `loss` builds are freed; the caller owns the gradients.
 */
export function lossAndGradientsByName(
  params: Map<string, tf.Variable>,
  loss: () => tf.Scalar,
): { loss: number; grads: Map<string, tf.Tensor> } {
  const variables = [...params.values()].filter((v) => v.trainable);
  const { value, grads } = tf.variableGrads(loss, variables);
  const lossValue = value.dataSync()[0]!;
  value.dispose();
  return { loss: lossValue, grads: gradientsByName(params, grads) };
}

/**
 * Gradient accumulation: add `grads` into `into` (which it returns; the first call adopts `grads`).
 * The incoming tensors are disposed.
 */
export function accumulateGradients(
  into: Map<string, tf.Tensor> | undefined,
  grads: Map<string, tf.Tensor>,
): Map<string, tf.Tensor> {
  if (!into) return grads;
  for (const [name, g] of grads) {
    const previous = into.get(name);
    if (!previous) {
      into.set(name, g);
      continue;
    }
    into.set(name, tf.add(previous, g));
    previous.dispose();
    g.dispose();
  }
  return into;
}

/** Divide accumulated gradients by the number of micro-steps (in place; the old tensors are disposed). */
export function averageGradients(grads: Map<string, tf.Tensor>, count: number): Map<string, tf.Tensor> {
  if (count === 1) return grads;
  for (const [name, g] of grads) {
    grads.set(name, tf.div(g, count));
    g.dispose();
  }
  return grads;
}
