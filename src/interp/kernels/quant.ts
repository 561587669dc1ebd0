/** @fileoverview quant kernels (to be filled). */
export {};
