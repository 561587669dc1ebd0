/** @fileoverview fused.* kernels (to be filled). */
export {};
