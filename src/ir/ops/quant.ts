/** @fileoverview quant ops (to be filled). */
export {};
